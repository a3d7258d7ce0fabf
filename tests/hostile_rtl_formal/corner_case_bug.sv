// expect: ^counterexample: .*a=11111111 b=00000001
// task: add8
module TopModule (
  input  [7:0] a,
  input  [7:0] b,
  output [8:0] sum
);
  // wrong on one input pair in 65536: random simulation rarely sees it
  assign sum = (a == 8'hff && b == 8'h01) ? 9'd0 : a + b;
endmodule
