// expect: ^counterexample: .*vs xxxxxxxxx
// task: add8
module TopModule (
  input  [7:0] a,
  input  [7:0] b,
  output [8:0] sum
);
  assign sum = 9'bx;
endmodule
