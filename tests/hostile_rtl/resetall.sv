// expect: line 1: `resetall is neither an allowed directive
`resetall
`undefineall
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = a ^ b;  // wrong: the directive must not help it
endmodule
