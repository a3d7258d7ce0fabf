// expect: line 1: token pasting or stringification
`define CALL $``system
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = a + b;
  initial `CALL ("echo pwned > __SENTINEL__");
endmodule
