module RefModule (
  input      clk,
  input      reset,
  input      nickel,
  input      dime,
  output reg vend
);
  localparam C0 = 2'd0, C5 = 2'd1, C10 = 2'd2;
  reg [1:0] credit;
  wire [1:0] add = dime ? 2'd2 : (nickel ? 2'd1 : 2'd0);
  wire [2:0] total = credit + add;
  always @(posedge clk) begin
    if (reset) begin
      credit <= C0;
      vend <= 1'b0;
    end else if (total >= 3'd3) begin
      credit <= C0;
      vend <= 1'b1;
    end else begin
      credit <= total[1:0];
      vend <= 1'b0;
    end
  end
endmodule
