module RefModule (
  input  [7:0] a,
  input  [7:0] b,
  output       lt,
  output       eq,
  output       gt
);
  wire signed [7:0] sa = a;
  wire signed [7:0] sb = b;
  assign lt = sa < sb;
  assign eq = sa == sb;
  assign gt = sa > sb;
endmodule
