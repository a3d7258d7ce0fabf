// Bug: the inputs for sel = 2 and sel = 3 are swapped.
module TopModule (
  input  [1:0] sel,
  input  [7:0] a,
  input  [7:0] b,
  input  [7:0] c,
  input  [7:0] d,
  output [7:0] y
);
  assign y = sel[1] ? (sel[0] ? c : d) : (sel[0] ? b : a);
endmodule
