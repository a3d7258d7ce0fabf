// Bug: a 3-bit running count, so 8 ones wrap to 0.
module TopModule (
  input      [7:0] in,
  output     [3:0] count
);
  reg [2:0] c;
  integer i;
  always @(*) begin
    c = 3'd0;
    for (i = 0; i < 8; i = i + 1)
      c = c + in[i];
  end
  assign count = {1'b0, c};
endmodule
