// Correct but needlessly large: one 9-bit adder for each value of {cin, a[0]}, then a 4-way
// select; the four sums differ, so synthesis cannot merge them.
module TopModule (
  input  [7:0] a,
  input  [7:0] b,
  input        cin,
  output [7:0] sum,
  output       cout
);
  wire [8:0] x00 = {a[7:1], 1'b0} + b;
  wire [8:0] x01 = {a[7:1], 1'b1} + b;
  wire [8:0] x10 = {a[7:1], 1'b0} + b + 9'd1;
  wire [8:0] x11 = {a[7:1], 1'b1} + b + 9'd1;
  reg  [8:0] s;
  always @(*) begin
    case ({cin, a[0]})
      2'b00:   s = x00;
      2'b01:   s = x01;
      2'b10:   s = x10;
      default: s = x11;
    endcase
  end
  assign {cout, sum} = s;
endmodule
