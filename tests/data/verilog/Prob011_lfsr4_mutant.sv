// Bug: the feedback taps q[3] and q[0] instead of q[3] and q[2].
module TopModule (
  input            clk,
  input            reset,
  input            en,
  output reg [3:0] q
);
  always @(posedge clk) begin
    if (reset)
      q <= 4'b0001;
    else if (en)
      q <= {q[2:0], q[3] ^ q[0]};
  end
endmodule
