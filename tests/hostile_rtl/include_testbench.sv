// expect: line 1: `include is neither an allowed directive
`include "tb.sv"
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = a + b;
endmodule
