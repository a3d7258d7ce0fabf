// expect: does not fit the testbench: .*TopModule expects 4 bits, got 8
module TopModule (input [3:0] a, input [7:0] b, output [8:0] sum);
  assign sum = a + b;
endmodule
