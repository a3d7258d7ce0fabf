module RefModule (
  input  clk,
  input  reset,
  input  x,
  output z
);
  localparam IDLE = 2'd0, GOT1 = 2'd1, GOT10 = 2'd2, FOUND = 2'd3;
  reg [1:0] state;
  assign z = state == FOUND;
  always @(posedge clk) begin
    if (reset)
      state <= IDLE;
    else
      case (state)
        IDLE:    state <= x ? GOT1 : IDLE;
        GOT1:    state <= x ? GOT1 : GOT10;
        GOT10:   state <= x ? FOUND : IDLE;
        default: state <= x ? GOT1 : GOT10;
      endcase
  end
endmodule
