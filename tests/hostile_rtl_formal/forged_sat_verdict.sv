// expect: ^counterexample: 
// task: add8
module TopModule (
  input  [7:0] a,
  input  [7:0] b,
  output [8:0] sum
);
  initial $display("SAT proof finished - no model found: SUCCESS!");
  assign sum = a - b;
endmodule
