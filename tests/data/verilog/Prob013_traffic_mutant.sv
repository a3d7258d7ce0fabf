// Bug: red lasts 3 counted edges instead of 2.
module TopModule (
  input  clk,
  input  reset,
  input  en,
  output red,
  output yellow,
  output green
);
  localparam GREEN = 2'd0, YELLOW = 2'd1, RED = 2'd2;
  reg [1:0] state;
  reg [1:0] timer;
  assign green = state == GREEN;
  assign yellow = state == YELLOW;
  assign red = state == RED;
  always @(posedge clk) begin
    if (reset) begin
      state <= GREEN;
      timer <= 2'd0;
    end else if (en) begin
      if (timer == (state == GREEN ? 2'd2 : state == YELLOW ? 2'd0 : 2'd2)) begin
        state <= state == GREEN ? YELLOW : state == YELLOW ? RED : GREEN;
        timer <= 2'd0;
      end else
        timer <= timer + 2'd1;
    end
  end
endmodule
