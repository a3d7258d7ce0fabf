// expect: ^unknown: .*latch
// task: count4en
module TopModule (
  input            clk,
  input            reset,
  input            en,
  output reg [3:0] q
);
  always @* if (en) q = 4'd3;
endmodule
