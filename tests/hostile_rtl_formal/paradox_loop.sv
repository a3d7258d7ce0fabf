// expect: ^unknown: .*combinational loop
// task: add8
module TopModule (
  input  [7:0] a,
  input  [7:0] b,
  output [8:0] sum
);
  // w = (w === x) ? 0 : ~w has no solution, not even x: without a loop check every proof would pass vacuously
  wire w;
  assign w = (w === 1'bx) ? 1'b0 : ~w;
  assign sum = {8'd0, w};
endmodule
