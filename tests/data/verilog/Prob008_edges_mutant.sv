// Bug: reset clears the outputs but not the remembered sample.
module TopModule (
  input      clk,
  input      reset,
  input      in,
  output reg rise,
  output reg fall
);
  reg prev;
  always @(posedge clk) begin
    prev <= in;
    if (reset) begin
      rise <= 1'b0;
      fall <= 1'b0;
    end else begin
      rise <= in & ~prev;
      fall <= ~in & prev;
    end
  end
endmodule
