module RefModule (
  input            clk,
  input            reset,
  input      [1:0] req,
  output reg [1:0] gnt
);
  reg last;  // the requester granted most recently
  always @(posedge clk) begin
    if (reset) begin
      gnt <= 2'b00;
      last <= 1'b1;
    end else begin
      case (req)
        2'b01: begin
          gnt <= 2'b01;
          last <= 1'b0;
        end
        2'b10: begin
          gnt <= 2'b10;
          last <= 1'b1;
        end
        2'b11: begin
          gnt <= last ? 2'b01 : 2'b10;
          last <= ~last;
        end
        default: gnt <= 2'b00;
      endcase
    end
  end
endmodule
