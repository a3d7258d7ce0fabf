// expect: syntax: .*does not have any delay|does not fit the testbench: .*does not have any delay
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  reg [8:0] s;
  always s = a + b;
  assign sum = s;
endmodule
