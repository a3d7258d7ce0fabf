// Bug: the loop stops one bit short, so in[7] is never seen.
module TopModule (
  input      [7:0] in,
  output reg [2:0] pos,
  output           valid
);
  integer i;
  assign valid = |in;
  always @(*) begin
    pos = 3'd0;
    for (i = 0; i < 7; i = i + 1)
      if (in[i]) pos = i;
  end
endmodule
