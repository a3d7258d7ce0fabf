module RefModule (
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
      case (state)
        GREEN:
          if (timer == 2'd2) begin
            state <= YELLOW;
            timer <= 2'd0;
          end else
            timer <= timer + 2'd1;
        YELLOW: begin
          state <= RED;
          timer <= 2'd0;
        end
        default:
          if (timer == 2'd1) begin
            state <= GREEN;
            timer <= 2'd0;
          end else
            timer <= timer + 2'd1;
      endcase
    end
  end
endmodule
