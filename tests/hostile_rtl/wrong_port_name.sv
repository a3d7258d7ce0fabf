// expect: does not fit the testbench: .*port ..a'' is not a port
module TopModule (input [7:0] x, input [7:0] b, output [8:0] sum);
  assign sum = x + b;
endmodule
