// Bug: ovf is cleared instead of held while en is 0.
module TopModule (
  input            clk,
  input            reset,
  input            en,
  input      [7:0] d,
  output reg [7:0] acc,
  output reg       ovf
);
  always @(posedge clk) begin
    if (reset)
      {ovf, acc} <= 9'd0;
    else if (en)
      {ovf, acc} <= acc + d;
    else
      ovf <= 1'b0;
  end
endmodule
