// expect: syntax: .*tb\.mismatches
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = 9'd0;
  always @(a or b) #1 tb.mismatches = 0;
endmodule
