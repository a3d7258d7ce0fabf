// expect: ^counterexample: 
// task: add8
module rlpost_gold (input [7:0] x, input [7:0] y, output [8:0] z);
  assign z = x - y;
endmodule
module TopModule (
  input  [7:0] a,
  input  [7:0] b,
  output [8:0] sum
);
  rlpost_gold g (.x(a), .y(b), .z(sum));
endmodule
