// expect: ^counterexample: 
// task: add8
module TopModule (
  input  [7:0] a,
  input  [7:0] b,
  output [8:0] sum
);
  wire [8:0] s;
  assign s = a + b;
  assign s = 9'd0;
  assign sum = s;
endmodule
