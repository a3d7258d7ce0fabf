// expect: ^counterexample: 
// task: add8
module TopModule (
  input  [7:0] a,
  input  [7:0] b,
  output [8:0] sum
);
  // wrong unless a is 0; the assumption would hide that if it reached the solver
  assign sum = {1'b0, b};
  always @* assume (a == 8'd0);
endmodule
