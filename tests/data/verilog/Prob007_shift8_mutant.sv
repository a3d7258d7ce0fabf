// Bug: shift is checked before load, so load loses when both are 1.
module TopModule (
  input            clk,
  input            reset,
  input            load,
  input            shift,
  input            din,
  input      [7:0] d,
  output reg [7:0] q
);
  always @(posedge clk) begin
    if (reset)
      q <= 8'd0;
    else if (shift)
      q <= {q[6:0], din};
    else if (load)
      q <= d;
  end
endmodule
