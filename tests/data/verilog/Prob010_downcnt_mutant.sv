// Bug: the counter does not stop at 0 and wraps to 255.
module TopModule (
  input            clk,
  input            reset,
  input            load,
  input      [7:0] d,
  output reg [7:0] cnt,
  output           zero
);
  assign zero = cnt == 8'd0;
  always @(posedge clk) begin
    if (reset)
      cnt <= 8'd0;
    else if (load)
      cnt <= d;
    else
      cnt <= cnt - 8'd1;
  end
endmodule
