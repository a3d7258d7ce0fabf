// expect: declares module tb, which the testbench or the reference owns
module \tb ;
endmodule
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = 9'd0;
endmodule
