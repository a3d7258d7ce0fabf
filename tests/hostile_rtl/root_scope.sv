// expect: line 2: system task \$root is not allowed
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = $root.tb.sum_ref;
endmodule
