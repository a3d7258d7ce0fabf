// expect: ^counterexample: .*ref 1101 vs 0000
// task: count4en
module TopModule (
  input        clk,
  input        reset,
  input        en,
  output [3:0] q
);
  reg [3:0] c;
  always @(posedge clk) if (reset) c <= 4'd0; else if (en) c <= c + 4'd1;
  assign q = c == 4'd13 ? 4'd0 : c;
endmodule
