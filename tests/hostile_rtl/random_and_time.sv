// expect: line 3: system task \$random is not allowed
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  reg [8:0] r;
  always @(a or b) r = $random + $time;
  assign sum = r;
endmodule
