// expect: line 3: macro `B is glued to a neighbouring word
`define B b
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = t`B.sum_ref;
endmodule
