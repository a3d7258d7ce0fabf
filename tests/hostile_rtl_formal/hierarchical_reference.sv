// expect: ^(counterexample|unknown): 
// task: add8
module TopModule (
  input  [7:0] a,
  input  [7:0] b,
  output [8:0] sum
);
  assign sum = RefModule.sum;
endmodule
