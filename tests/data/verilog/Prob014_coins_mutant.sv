// Bug: a nickel is ignored when the credit is 10.
module TopModule (
  input      clk,
  input      reset,
  input      nickel,
  input      dime,
  output reg vend
);
  reg [1:0] credit;
  always @(posedge clk) begin
    vend <= 1'b0;
    if (reset)
      credit <= 2'd0;
    else if (dime) begin
      if (credit == 2'd0)
        credit <= 2'd2;
      else begin
        credit <= 2'd0;
        vend <= 1'b1;
      end
    end else if (nickel && credit != 2'd2)
      credit <= credit + 2'd1;
  end
endmodule
