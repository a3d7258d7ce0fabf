// Bug: reset loads 1 instead of 0.
module TopModule (
  input            clk,
  input            reset,
  input            en,
  output reg [3:0] q
);
  always @(posedge clk) begin
    if (reset)
      q <= 4'd1;
    else if (en)
      q <= q + 4'd1;
  end
endmodule
