// expect: ^counterexample: .*vs xxxx
// task: count4en
module TopModule (
  input            clk,
  input            reset,
  input            en,
  output reg [3:0] q
);
  always @(posedge clk) q <= reset ? 4'd0 : en ? 4'bx : q;
endmodule
