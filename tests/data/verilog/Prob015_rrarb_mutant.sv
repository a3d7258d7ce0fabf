// Bug: fixed priority; requester 0 always wins a tie.
module TopModule (
  input            clk,
  input            reset,
  input      [1:0] req,
  output reg [1:0] gnt
);
  always @(posedge clk) begin
    if (reset)
      gnt <= 2'b00;
    else if (req[0])
      gnt <= 2'b01;
    else if (req[1])
      gnt <= 2'b10;
    else
      gnt <= 2'b00;
  end
endmodule
