// expect: line 2: `line is neither an allowed directive
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
`line 1 "tb.sv" 0
  assign sum = a ^ b;  // wrong: the directive must not help it
endmodule
