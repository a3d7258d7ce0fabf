// expect: line 2: .import. is not synthesisable RTL
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  import "DPI-C" function int system(input string cmd);
  assign sum = a + b;
  initial void'(system("echo pwned > __SENTINEL__"));
endmodule
