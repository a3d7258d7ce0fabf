// expect: ^unknown: 
// task: add8
(* blackbox *)
module TopModule (
  input  [7:0] a,
  input  [7:0] b,
  output [8:0] sum
);

endmodule
