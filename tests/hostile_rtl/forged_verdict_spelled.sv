// expect: line 3: system task \$display is not allowed
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = 9'd0;
  final $display("%s%s: 0 in 300 samples", "Mis", "matches");
endmodule
