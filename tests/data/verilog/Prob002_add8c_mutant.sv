// Bug: the carry out ignores cin.
module TopModule (
  input  [7:0] a,
  input  [7:0] b,
  input        cin,
  output [7:0] sum,
  output       cout
);
  wire [8:0] s = a + b;
  assign sum = a + b + {7'd0, cin};
  assign cout = s[8];
endmodule
