// Correct but deliberately wasteful (the PPA tests rely on it): the sum comes from one adder
// and the carry out from two more adders, one per value of cin, so a plain a + b + cin is
// smaller and no slower.
module RefModule (
  input  [7:0] a,
  input  [7:0] b,
  input        cin,
  output [7:0] sum,
  output       cout
);
  wire [8:0] s0 = a + b;
  wire [8:0] s1 = a + b + 9'd1;
  assign sum = a + b + {7'd0, cin};
  assign cout = cin ? s1[8] : s0[8];
endmodule
