// expect: line 4: 'fork' is not synthesisable RTL
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  reg [8:0] s;
  initial
    fork
      forever @(a or b) s = a ^ b;  // wrong: the construct must not help it
    join
  assign sum = s;
endmodule
