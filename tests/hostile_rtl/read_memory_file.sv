// expect: line 3: system task \$readmemh is not allowed
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  reg [7:0] secret [0:3];
  initial $readmemh("/etc/shadow", secret);
  assign sum = a + b;
endmodule
