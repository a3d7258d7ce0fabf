module RefModule (
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
  end
endmodule
