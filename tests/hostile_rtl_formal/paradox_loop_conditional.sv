// expect: ^unknown: .*combinational loop
// task: add8
module TopModule (
  input  [7:0] a,
  input  [7:0] b,
  output [8:0] sum
);
  // unsatisfiable only when a[0] is 1, the inputs for which the sum is wrong
  wire w;
  assign w = a[0] ? ((w === 1'bx) ? 1'b0 : ~w) : 1'b0;
  assign sum = a[0] ? {8'd0, w} : a + b;
endmodule
