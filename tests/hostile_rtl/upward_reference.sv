// expect: line 3: hierarchical reference tb.mismatches is not allowed
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = 9'd0;
  always @(a or b) tb.mismatches = 0;
endmodule
