// expect: ^counterexample: .*clk=1
// task: count4en
module TopModule (
  input        clk,
  input        reset,
  input        en,
  output [3:0] q
);
  // right while clk is low (when the testbench samples), wrong while it is high
  reg [3:0] c;
  always @(posedge clk) if (reset) c <= 4'd0; else if (en) c <= c + 4'd1;
  assign q = clk ? ~c : c;
endmodule
