// expect: line 3: system task \$system is not allowed
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = a + b;
  initial $system("echo pwned > __SENTINEL__");
endmodule
