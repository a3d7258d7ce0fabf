// expect: line 2: hierarchical reference good1.sum is not allowed
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = good1.sum;
endmodule
