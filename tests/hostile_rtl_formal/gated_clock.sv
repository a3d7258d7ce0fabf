// expect: ^unknown: .*(several clocks|derived clock)
// task: count4en
module TopModule (
  input            clk,
  input            reset,
  input            en,
  output reg [3:0] q
);
  wire g = clk & en;
  always @(posedge g) if (reset) q <= 4'd0; else q <= q + 4'd1;
endmodule
